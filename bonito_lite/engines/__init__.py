"""Generating: the request and result types, and the engines that turn requests into completions.

``generation`` holds what every engine takes and yields; ``local`` runs llama.cpp in this
process (over the C objects of ``llama_handles``, drawing with ``sampler``); ``server`` asks an
OpenAI-compatible server; ``backends`` picks one; ``resources`` plans memory and threads.
"""
