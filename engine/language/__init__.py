"""The rule languages: the condition language and the figure language, their types and vocabulary, each compiled
twice (a scalar backend for one placement, a vectorised numpy backend for a book)."""
