"""The tutor's database: who practises, and every finished practice (SQLAlchemy 2, Alembic).

``engine.py`` opens a database by URL (SQLite in the state folder by default, PostgreSQL for a
studio or more than one server process) and brings its schema up to date with the migrations
in ``migrations/``: the schema is only ever made and changed by them. ``models.py`` is the
schema as ORM classes. What is done with it lives beside the other stages: accounts in
``app/accounts.py``, practices and progress in ``app/progress.py``.
"""
