"""Actions: the bot calling the business's own code, in-process (Python) or over HTTP (Rasa's protocol).

`results` holds the light values the dialogue policy reads; the runner and its transports
import more and are loaded only by the service.
"""
