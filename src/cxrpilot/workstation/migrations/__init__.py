"""Alembic revisions of the workstation schema (``versions/``), run by ``_db.upgrade``.

Each revision is a frozen, self-contained snapshot: it spells out its own tables, columns and
constraints and imports nothing from the ORM or from other revisions (drop the ORM import
``script.py.mako`` adds for autogenerate once a revision is written out), so that a later
change to the application can never change what an old revision does. They therefore repeat the
header that ``script.py.mako`` writes and the ``sa.Column(...)`` shapes of earlier revisions;
``duplicates`` lists those pairs, and they are kept on purpose.
"""
