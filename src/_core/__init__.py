"""The compiled core of kando-parallel (Cython over C).

Import the public names from :mod:`kando_parallel`; these modules are the
implementation that :mod:`kando_parallel._backend` picks when they built.
"""
