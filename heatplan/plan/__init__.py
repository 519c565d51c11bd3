"""Pure plan logic (no network, no Heat): see doc/source/design.rst.

Sources (directory, archives), the definition, YAML nodes, assembly into one
request, manifests, comparison, parameter precedence, foreign-stack import and
deterministic archives.
"""
