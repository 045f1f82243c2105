"""The book layer: presets, plan, cached entry points, claims, scorecard, runner and plots.

Everything here may import the engine (``seelike.*``); nothing in the engine imports this
package (``tests/test_layers_contract.py``).
"""
