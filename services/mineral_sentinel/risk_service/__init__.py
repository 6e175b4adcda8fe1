"""The risk service: Faust agents, a per-material state table and the HTTP API around the core.

The pure pieces (intake classification, the re-keyed envelope, the sequencer, the table slot and
the per-message step) are importable without Faust; `app.create_app()` is the composition root.
"""
