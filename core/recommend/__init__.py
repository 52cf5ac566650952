"""Course recommendations (精准推荐): core/recommend/model.py fits, service.py serves."""
