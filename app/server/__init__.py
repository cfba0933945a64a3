"""The practice server: a thin FastAPI adapter over the library, the pose model and scoring.

``main`` builds the app; ``settings`` holds every option and limit; ``setup`` checks what can
fail before the server listens; ``state`` what a running server holds; one router per resource
(``references``, ``jobs``, ``health``, ``skeleton``, ``instructor``); ``practice`` is the
``/ws/practice`` handler, with its messages in ``protocol``, its flow control in ``flow`` and its
per-session workers in ``sessions``; ``runner`` runs it all under uvicorn, ``workers`` as
several processes on one socket (``serve --workers``), sharing scoring jobs through ``tasks``'
folder. docs/protocol.md describes the API.
"""
