"""The curator console: server-rendered pages that show galleries and photos as pictures.

Thin views over the selectors of galleries and photos, answered through the API's own output serializers
(so a thumbnail's URLs, ``srcset`` and sizes are the ones the API answers); nothing here decides anything
about galleries or photos. Who is a curator is the API's own answer (``console.access``).
"""
