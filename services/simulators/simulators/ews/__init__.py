"""An Exchange Web Services (EWS) simulator: SOAP 1.1 at `/EWS/Exchange.asmx`, Autodiscover."""
