"""The built-in simulator of the Wesog, Toloka and Traffic Ops APIs, for demos, tests and
rehearsing scripts offline. Standalone: it imports nothing else of opwatch.

    with Simulator(default_scenario(), speed=10) as sim:
        print(sim.config_yaml(), sim.refs())

Tests run it on a clock they move themselves, so nothing depends on how fast the machine is:

    clock = ManualClock()
    with Simulator(clock=clock) as sim:
        ref = sim.add_operation({"provider": "wesog", "duration_s": 60})
        sim.advance(61)  # the operation has finished

Layout: `server.py` is the core (state, clock, faults, the request path), `http.py` the HTTP
server (h11), `providers/` one module per simulated API, `admin.py` the `/_sim/` API,
`timeline.py` how an operation moves, `operations.py` and `scenario.py` what to simulate.
"""

from opwatch.simulator.clock import Clock, ManualClock, SystemClock
from opwatch.simulator.faults import Fault
from opwatch.simulator.operations import OperationSpec
from opwatch.simulator.scenario import Scenario, default_scenario, demo_scenario, load_scenario
from opwatch.simulator.server import Simulator, describe

__all__ = [
    "Clock",
    "Fault",
    "ManualClock",
    "OperationSpec",
    "Scenario",
    "Simulator",
    "SystemClock",
    "default_scenario",
    "demo_scenario",
    "describe",
    "load_scenario",
]
