"""Reading the inputs: finding documents, decoding each format, cutting passages.

``documents`` finds files (folders, patterns, stdin) and iterates passages; ``readers`` maps
each file suffix to the reader of that format (text, tables, PDF, DOCX, ODT, HTML); ``chunking``
cuts text into passages that fit the model.
"""
