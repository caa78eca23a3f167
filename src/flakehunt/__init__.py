"""flakehunt: reproduce and explain intermittent web bugs, with evidence a ticket can carry."""

__version__ = "0.1.0"
