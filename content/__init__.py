"""Assets and their renditions, collections, review, AI generation jobs, captions and provenance.

Owns ingest and the media pipeline (`pipeline/`, framework-free), the AI studio and its backends.
Sits above compliance (screening, consent facts); knows nothing of posts or platforms' accounts.
"""
