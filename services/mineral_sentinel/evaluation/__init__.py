"""Published accuracy: the backtest over labelled episodes, scored against dated public facts.

`labels` is the episode label format, `metrics` the pure scoring of one backtest against its
labels, `runner` the backtest of each episode, `table` the table (README and command),
`episodes` the seeded generator of the committed event files, `cli` the `sentinel evaluate DIR`
command and `charts` one PNG per episode.
"""
