"""Learning: the labelled training set, the CNNs, their training and their evaluation."""
