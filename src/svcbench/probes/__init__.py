"""Built-in probe plugins, registered through the ``svcbench.probes`` entry-point group."""
