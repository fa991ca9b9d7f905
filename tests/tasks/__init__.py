"""Task modules the tests run workers with (`pgrun --tasks tasks.basic` from tests/)."""
