# Sphinx configuration for heatplan's documentation.
project = 'heatplan'
copyright = '2026, heatplan developers'
extensions = []
source_suffix = '.rst'
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
pygments_style = 'sphinx'
