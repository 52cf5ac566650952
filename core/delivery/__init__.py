"""Delivery bookkeeping for platforms that limit what a bot may send and when (WeChat's
48-hour customer-service window), inbound deduplication, and pending numbered options."""
