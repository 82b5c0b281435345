"""The Azure LLM inference arrival trace (CC BY 4.0); see README.md."""
