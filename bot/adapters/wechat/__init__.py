"""The WeChat Official Account adapter (wechatpy): see adapter.py."""
