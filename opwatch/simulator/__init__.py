"""The built-in simulator of the Wesog, Toloka and Traffic Ops APIs, for demos, tests and
rehearsing scripts offline. Standalone: it imports nothing else of opwatch.

    with Simulator(default_scenario(), speed=10) as sim:
        print(sim.config_yaml(), sim.refs())
"""

from opwatch.simulator.faults import Fault
from opwatch.simulator.operations import OperationSpec
from opwatch.simulator.scenario import Scenario, default_scenario, demo_scenario, load_scenario
from opwatch.simulator.server import Simulator, describe

__all__ = [
    "Fault",
    "OperationSpec",
    "Scenario",
    "Simulator",
    "default_scenario",
    "demo_scenario",
    "describe",
    "load_scenario",
]
