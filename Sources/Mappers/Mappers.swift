// Mappers: domain objects ⇄ FHIR/CDA (orientation decisions, notifications, statuses, ROR units). Built with the Handicap module; no code yet.
