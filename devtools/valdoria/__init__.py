"""The generator of the shipped example data (``carr_agent/data/valdoria/``): a fictional region,
its encyclopedia, news, blogs and forum pages, and multi-hop research questions over them.

A build-time tool: the package ships the generated files, not this code. Run it from the
repository root after changing it (the output is committed)::

    python -m devtools.valdoria.generate            # rewrites carr_agent/data/valdoria/

* :mod:`.names` — name parts; :mod:`.world` — the entities and their relations;
* :mod:`.prose` — sentence templates; :mod:`.pages` — pages of each site;
* :mod:`.questions` — the research questions, their rubrics and traps;
* :mod:`.generate` — writes the files and their manifest.
"""
