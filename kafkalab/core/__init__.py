"""What every stage shares: errors, the user's directories, managed processes, waiting,
free ports and secret references. Imports nothing else of kafkalab."""
