"""Device drivers: each device behind a small port, real on the Pi and simulated on the host."""
