"""Test and benchmark helpers that stand in for parts that cannot run offline (a large judge LLM).

The library imports nothing here except :class:`~carr_agent.testing.scripted.ScriptedChatModel`,
which ``--model scripted:PATH.json`` (and a run context's ``model``) replays for tests and demos.
"""
