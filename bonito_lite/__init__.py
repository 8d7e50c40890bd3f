"""bonito-lite: Bonito conditional task generation on llama.cpp, offline."""

__version__ = "0.1.0"
