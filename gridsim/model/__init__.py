"""Network models: a pandapower net plus customers and devices; loading and validation."""
from gridsim.model.customers import derive_customers, place_critical_facilities, read_customers, write_customers
from gridsim.model.devices import build_device_table, derive_device_data
from gridsim.model.loader import BUNDLED_MODELS, list_models, load_model
from gridsim.model.model import CUSTOMER_COLUMNS, DEVICE_COLUMNS, Model
from gridsim.model.validation import assert_valid, validate_model

__all__ = [
    "BUNDLED_MODELS", "CUSTOMER_COLUMNS", "DEVICE_COLUMNS", "Model", "assert_valid", "build_device_table",
    "derive_customers", "derive_device_data", "list_models", "load_model", "place_critical_facilities",
    "read_customers", "validate_model", "write_customers",
]
