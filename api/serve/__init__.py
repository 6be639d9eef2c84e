"""Running the API: uvicorn, worker processes, settings from the environment, the request log and headers."""
