"""API building blocks every app's serializers, filters and views share: what the boundary accepts.

The boundary is where a request's text becomes values the database will hold, so the rules live here
once: every datetime is an instant normalised to UTC within years PostgreSQL and the calendar code both
handle, every integer fits its column, JSON is shallow enough to walk and holds no NUL character.
"""
