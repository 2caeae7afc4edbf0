"""The demo shop's actions (see docs/actions.md): Python functions intents.yaml names as `actions.shop:NAME`."""
