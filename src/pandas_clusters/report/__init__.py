"""The report: survey figures and, on the mock survey, scores against the truth."""
