"""The clearinghouse port (`port.Clearinghouse`) and its adapters (`http.HttpClearinghouse`)."""
