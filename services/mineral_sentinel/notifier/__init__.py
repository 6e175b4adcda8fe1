"""The notifier: subscriptions, durable signed webhook delivery, and the /v1/subscriptions API.

Pure modules (no I/O, no clock, no randomness): signing, retry, matching, ssrf, decisions,
payloads. The shell: transport, sender, views, executor, api, app.
"""
