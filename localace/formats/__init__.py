"""Readers and writers for the tool-calling text formats localace consumes and emits."""
