"""Pure plan logic (no network): see doc/source/design.rst.

New pure plan code goes here (DESIGN section 5); the older modules
(assemble, definition, source, ...) move in when the layout step lands.
"""
