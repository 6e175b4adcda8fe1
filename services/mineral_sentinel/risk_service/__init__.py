"""The risk service: the intake, the event-time merge, a per-material state table and the API.

The pure pieces (the envelope, the merge, the table slot and the per-record step) are importable
without Faust or Kafka; `app.create_app()` is the composition root.
"""
