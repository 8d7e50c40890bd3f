"""Reading the inputs: finding documents, decoding each format, cutting passages.

``documents`` finds files (folders, patterns, stdin) and iterates passages; ``formats`` reads
each kind of file (text, PDF, tables); ``chunking`` cuts text into passages that fit the model.
"""
