"""Widgets and figures for the lessons, each a thin view over plain functions that tests call directly.

Import the submodule a lesson needs, e.g. ``from bltlib.viz.bpe_stepper import merge_stepper`` or, to
replay a BLT generation byte by byte, ``from bltlib.viz.generation_timeline import generation_timeline``;
this package imports nothing itself, so ``import bltlib.viz`` stays cheap (ipywidgets and plotly are
only loaded by the functions that draw).
"""
