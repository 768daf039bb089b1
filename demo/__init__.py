"""Demo data for a first look (`manage.py seed_demo`, run by `make run`): an agency, its staff and creators.

It sits at the top, beside `config`, so it may build through every app's services; no app imports it.
"""
