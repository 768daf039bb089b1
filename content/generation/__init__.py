"""AI studio: generating images and texts for personas.

`content.generation.backends` talks to the model servers; jobs, personas and provenance build on it.
"""
