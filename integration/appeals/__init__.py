"""Appeal letters for denials: drafted from templates in mappings/letters with every factual
sentence tied to its source, checked before signing, rendered with attachments to PDF."""
