"""gettext catalogs (``<locale>/LC_MESSAGES/messages.po``); see ``make i18n``."""
