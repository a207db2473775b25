"""Test and benchmark helpers that stand in for parts that cannot run offline (a large judge LLM).

Nothing here is imported by the library itself.
"""
