"""The dashboard's pages, one module each. A module has MENU (its entry in the menu, or None)
and install(kit, router) putting its routes on the HTTP app's router."""
