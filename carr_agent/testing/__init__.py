"""Test and benchmark helpers that stand in for parts that cannot run offline (a large judge LLM).

Nothing in the library imports this package. (The scripted chat model that tests and demos
replay, ``--model scripted:PATH.json``, is :class:`carr_agent.models.scripted.ScriptedChatModel`.)
"""
