"""localace: offline ToolACE-style synthesis of tool-calling training data on local GGUF models."""

__version__ = "0.1.0"
