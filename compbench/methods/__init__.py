"""Methods that need data beyond the adapters: weight search for LoraHub and LM-Cocktail."""
